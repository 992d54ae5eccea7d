# Alice — noisynote. 7 atributos padronizados, 64-64 relu com dropout, sigmoide na saída, 200 épocas.
# Erro de teste obtido: 0,3 %
import numpy as np
import keras
def le(nome):
    with open(nome) as f:
        nl, nc = map(int, f.readline().split())
        return np.loadtxt(f, dtype=np.float32).reshape(nl, nc)
ax, ay, qx, qy = le("ax.txt"), le("ay.txt"), le("qx.txt"), le("qy.txt")
m, s = ax.mean(0), ax.std(0)
ax, qx = (ax - m) / s, (qx - m) / s
model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(64, activation="relu"), keras.layers.Dropout(0.2),
                          keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
model.fit(ax, ay, epochs=200, batch_size=32, verbose=0)
print("erro de teste: %.2f%%" % (100 * (1 - model.evaluate(qx, qy, verbose=0)[1])))
