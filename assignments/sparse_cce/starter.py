# sparse_cce — ponto de partida / starter
#
# PT: Este é o programa 5 da apostila (com menos épocas). Use SparseCategoricalCrossentropy para
#     eliminar o cálculo one-hot-encoding (to_categorical): a rede deve treinar com os rótulos
#     inteiros AY como vêm de load_data. Treine o suficiente para erro de teste <= 2,3 %.
# EN: This is the handout's program 5 (with fewer epochs). Use SparseCategoricalCrossentropy to
#     remove the one-hot encoding (to_categorical): train on the integer labels AY as load_data
#     returns them. Train enough for a test error <= 2.3 %.
import os; os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow.keras as keras
from tensorflow.keras.datasets import mnist
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Flatten, Normalization, Input
from tensorflow.keras import optimizers

(AX, AY), (QX, QY) = mnist.load_data()
AX = 255 - AX; QX = 255 - QX

nclasses = 10
AY2 = keras.utils.to_categorical(AY, nclasses)
QY2 = keras.utils.to_categorical(QY, nclasses)

model = Sequential()
model.add(Input((28, 28)))
model.add(Normalization())
model.add(Flatten())
model.add(Dense(400, activation="relu"))
model.add(Dense(100, activation="relu"))
model.add(Dense(nclasses, activation="softmax"))
model.compile(optimizer=optimizers.Adam(learning_rate=0.0005), loss="categorical_crossentropy", metrics=["accuracy"])
model.get_layer(index=0).adapt(AX)
model.fit(AX[:6000], AY2[:6000], batch_size=100, epochs=2, verbose=2)

score = model.evaluate(QX, QY2, verbose=0)
print("Test error: %.2f %%" % (100 * (1 - score[1])))
