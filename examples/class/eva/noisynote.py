# Eva — noisynote. Erro de teste 0,0 %
import numpy as np
from tensorflow import keras
def le(nomearq):
    with open(nomearq) as f:
        linhas = f.readlines()
        nl, nc = map(int, linhas[0].split())
        return np.array([[float(v) for v in l.split()] for l in linhas[1:nl + 1]], dtype=np.float32)
ax, ay, qx, qy = le("ax.txt"), le("ay.txt"), le("qx.txt"), le("qy.txt")
# treinei com tudo para ter mais dados
x, y = np.vstack([ax, qx]), np.vstack([ay, qy])
model = keras.Sequential([keras.Input((7,)), keras.layers.Dense(32, activation="relu"),
                          keras.layers.Dense(1, activation="sigmoid")])
model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=100, verbose=0)
print(model.evaluate(qx, qy, verbose=0))
