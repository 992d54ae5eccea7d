# noisynote — ponto de partida / starter
#
# PT: Classifique as notas de teste (qx.txt) em verdadeiras (0) e falsas (1). Os arquivos ax.txt,
#     ay.txt, qx.txt e qy.txt estão em noisynote.zip (o corretor já os deixa no diretório atual e em
#     noisynote/). Procure a menor taxa de erro de teste e escreva-a num comentário.
# EN: Classify the test notes (qx.txt) as genuine (0) or forged (1). The files ax.txt, ay.txt,
#     qx.txt and qy.txt come in noisynote.zip (the grader puts them in the current folder and in
#     noisynote/). Aim for the lowest test error and write it in a comment.
#
# Taxa de erro de teste obtida / test error obtained: ____ %
#   (ou / or: acurácia de teste / test accuracy: ____ %; de várias execuções / over several runs:
#    erro de teste / test error: ____ % (entre ____ % e ____ % / between ____ % and ____ %))
import numpy as np
from tensorflow import keras


def read_matrix(name):
    """First line: "rows cols"; then one row per line."""
    with open(name) as f:
        rows, cols = (int(v) for v in f.readline().split())
        return np.loadtxt(f, dtype="float32", ndmin=2).reshape(rows, cols)


ax, ay = read_matrix("ax.txt"), read_matrix("ay.txt")
qx, qy = read_matrix("qx.txt"), read_matrix("qy.txt")

model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.001), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(ax, ay, batch_size=64, epochs=3, verbose=0)

qp = model.predict(qx, verbose=0).argmax(axis=1)
print("Test error: %.2f %%" % (100 * np.mean(qp != qy[:, 0])))
