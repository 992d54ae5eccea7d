# Joana — noisynote (cédulas com ruído)
# Tirei as colunas de ruído e normalizei; a rede tem duas camadas escondidas.
# Erro de teste obtido: 0,0 %
import numpy as np
from tensorflow import keras


def ler_matriz(nome):
    with open(nome) as arq:
        nl, nc = (int(v) for v in arq.readline().split())
        return np.loadtxt(arq, dtype="float32", ndmin=2).reshape(nl, nc)


xa, ya = ler_matriz("ax.txt"), ler_matriz("ay.txt")
xq, yq = ler_matriz("qx.txt"), ler_matriz("qy.txt")
xa, xq = xa[:, :4], xq[:, :4]
mu, sigma = xa.mean(axis=0), xa.std(axis=0)
xa = (xa - mu) / sigma
xq = (xq - mu) / sigma

modelo = keras.Sequential([
    keras.Input((4,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
modelo.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="binary_crossentropy",
               metrics=["accuracy"])
modelo.fit(xa, ya, batch_size=32, epochs=150, verbose=0)

qp = (modelo.predict(xq, verbose=0)[:, 0] > 0.5).astype(int)
n_erros = np.sum(qp != yq[:, 0])
print("erros:", n_erros, "de", len(yq), "- erro de teste: %.2f %%" % (100 * n_erros / len(yq)))
