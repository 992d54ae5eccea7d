# Carla — mnist_dense (copied from an older Keras 2 tutorial)
# Test error: 1.5%
import tensorflow.keras as keras
from tensorflow.keras.datasets import mnist
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Flatten
from tensorflow.keras import optimizers

(AX, AY), (QX, QY) = mnist.load_data()
AX = AX / 255.0; QX = QX / 255.0
AY2 = keras.utils.to_categorical(AY, 10)
QY2 = keras.utils.to_categorical(QY, 10)

model = Sequential()
model.add(Flatten(input_shape=(28, 28)))
model.add(Dense(400, activation='relu'))
model.add(Dense(10, activation='softmax'))
opt = optimizers.Adam(lr=0.0005)   # Keras 3 no longer accepts `lr`
model.compile(optimizer=opt, loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(AX, AY2, batch_size=100, epochs=20, verbose=2)
print(model.evaluate(QX, QY2))
