# Alice — fashion_mnist: 784 -> 512 relu -> dropout 0.2 -> 512 relu -> dropout 0.2 -> 10 softmax, 12 épocas.
# Erro de teste obtido: 11,4 % (quase lá: mais épocas ou dropout maior devem ajudar)
import numpy as np
import matplotlib.pyplot as plt
import keras
categorias = ["Camiseta", "Calça", "Pulôver", "Vestido", "Casaco", "Sandália", "Camisa", "Tênis", "Bolsa", "Botins"]
(AX, AY), (QX, QY) = keras.datasets.fashion_mnist.load_data()
ax, qx = AX.reshape(-1, 784) / 255.0, QX.reshape(-1, 784) / 255.0
model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(512, activation="relu"), keras.layers.Dropout(0.2),
                          keras.layers.Dense(512, activation="relu"), keras.layers.Dropout(0.2),
                          keras.layers.Dense(10, activation="softmax")])
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(ax, AY, epochs=12, batch_size=128, verbose=2)
QP = model.predict(qx, verbose=0).argmax(1)
print("Test error: %.2f %%" % (100 * np.mean(QP != QY)))
fig, axes = plt.subplots(4, 5, figsize=(10, 9))
for i, a in enumerate(axes.flat):
    a.imshow(QX[i], cmap="gray")
    a.set_axis_off()
    a.text(0, -8, categorias[QY[i]], color="blue")
    a.text(0, -2, categorias[QP[i]], color="red")
plt.savefig("fashion.png")
