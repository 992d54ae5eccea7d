# Igor — noisynote. Descarto os 3 atributos de ruído (colunas 4 a 6) e padronizo os 4 que sobram.
# Rede 4-32-16-1, sigmoide na saída, 150 épocas com Adam.
# Erro de teste obtido: 0,0 %
import numpy as np
from tensorflow import keras


def carrega(arquivo):
    with open(arquivo) as f:
        linhas, colunas = (int(v) for v in f.readline().split())
        return np.loadtxt(f, dtype="float32", ndmin=2).reshape(linhas, colunas)


treino_x, treino_y = carrega("ax.txt"), carrega("ay.txt")
teste_x, teste_y = carrega("qx.txt"), carrega("qy.txt")
treino_x, teste_x = treino_x[:, :4], teste_x[:, :4]          # só os atributos verdadeiros
media, desvio = treino_x.mean(axis=0), treino_x.std(axis=0)
treino_x = (treino_x - media) / desvio
teste_x = (teste_x - media) / desvio

rede = keras.Sequential([
    keras.Input((4,)),
    keras.layers.Dense(32, activation="relu"),
    keras.layers.Dense(16, activation="relu"),
    keras.layers.Dense(1, activation="sigmoid"),
])
rede.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005), loss="binary_crossentropy",
             metrics=["accuracy"])
rede.fit(treino_x, treino_y, batch_size=32, epochs=150, verbose=0)

previsto = (rede.predict(teste_x, verbose=0)[:, 0] > 0.5).astype(int)
erros = np.sum(previsto != teste_y[:, 0])
print("erros:", erros, "de", len(teste_y), "- erro de teste: %.2f %%" % (100 * erros / len(teste_y)))
