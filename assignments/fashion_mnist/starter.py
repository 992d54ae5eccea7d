# fashion_mnist — ponto de partida / starter
#
# PT: Classifique Fashion-MNIST com uma rede DENSA (sem convolução) com a menor taxa de erro de teste
#     que conseguir, escreva-a num comentário, e mostre numa figura 4x5 as 20 primeiras imagens de
#     teste com a classe verdadeira em AZUL e a classe predita pela rede em VERMELHO, acima de cada
#     imagem. Salve a figura (plt.savefig) ou mostre-a (plt.show).
# EN: Classify Fashion-MNIST with a DENSE network (no convolutions) with the lowest test error you
#     can, write it in a comment, and draw a 4x5 figure of the first 20 test images with the true
#     class in BLUE and the class the network predicts in RED above each image. Save the figure
#     (plt.savefig) or show it (plt.show).
#
# Taxa de erro de teste obtida / test error obtained: ____ %
#   (ou / or: acurácia de teste / test accuracy: ____ %; de várias execuções / over several runs:
#    erro de teste / test error: ____ % (entre ____ % e ____ % / between ____ % and ____ %))
import numpy as np
from keras.datasets import fashion_mnist
from tensorflow import keras
import matplotlib.pyplot as plt

categories = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
categorias = ["Camiseta", "Calça", "Pulôver", "Vestido", "Casaco", "Sandália", "Camisa", "Tênis", "Bolsa", "Botins"]

(AX, AY), (QX, QY) = fashion_mnist.load_data()

model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-4), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(AX / 255.0, AY, batch_size=100, epochs=1, verbose=2)
QP = model.predict(QX / 255.0, verbose=0).argmax(axis=1)
print("Test error: %.2f %%" % (100 * np.mean(QP != QY)))

# TODO: the 4x5 figure. A start: the images, without any labels yet.
for i in range(20):
    plt.subplot(4, 5, i + 1)
    plt.imshow(QX[i], cmap="gray")
    plt.axis("off")
plt.show()
