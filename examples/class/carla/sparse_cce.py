# Carla — sparse_cce: troquei a perda mas esqueci de tirar o to_categorical do teste.
import keras
(AX, AY), (QX, QY) = keras.datasets.mnist.load_data()
QY2 = keras.utils.to_categorical(QY, 10)
model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(128, activation="relu"),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(AX / 255.0, AY, epochs=3, batch_size=128, verbose=2)
print(model.predict(QX / 255.0, verbose=0).argmax(1)[:10], QY2[:2])
