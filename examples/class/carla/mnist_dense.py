# Carla — mnist_dense (copied from an older Keras tutorial: Keras 2 and Keras 1 spellings)
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
opt = optimizers.Adam(lr=0.0005)   # Keras 2's `lr`: graded as Keras 2 ran it, with a notice

model = Sequential()
model.add(Flatten(input_shape=(28, 28)))
model.add(Dense(400, init='uniform', activation='relu'))   # Keras 1's `init`: Keras 2 already refused it
model.add(Dense(10, activation='softmax'))
model.compile(optimizer=opt, loss='categorical_crossentropy', metrics=['accuracy'])
model.fit(AX, AY2, batch_size=100, epochs=20, verbose=2)
print(model.evaluate(QX, QY2))
