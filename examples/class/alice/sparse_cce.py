# Alice — sparse_cce: programa 5 com SparseCategoricalCrossentropy, rótulos inteiros, 15 épocas.
# Erro de teste obtido: 1,9 %
import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
AX = 255 - AX; QX = 255 - QX
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Normalization(), keras.layers.Flatten(),
                          keras.layers.Dense(400, activation="relu"), keras.layers.Dense(100, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.0005),
              loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
model.layers[0].adapt(AX)
model.fit(AX, AY, batch_size=100, epochs=15, verbose=2)
print("Test error: %.2f %%" % (100 * (1 - model.evaluate(QX, QY, verbose=0)[1])))
