# abc_skin — ponto de partida / starter
#
# PT: Este programa classifica A (adulto), B (bebê) ou C (criança) só pelo peso (kg).
#     Modifique-o para aceitar DOIS atributos: peso (kg) e cor da pele (0 = escuro, 100 = claro),
#     treine com a tabela do enunciado e classifique as 3 instâncias de teste. Depois responda:
#     a rede conseguiu identificar "cor da pele" como ruído?
# EN: This program classifies A (adult), B (baby) or C (child) from the weight (kg) alone.
#     Change it to take TWO attributes, weight (kg) and skin colour (0 = dark, 100 = light), train it
#     on the statement's table and classify the 3 test instances. Then answer: did the network
#     learn that skin colour is noise?
import numpy as np
from tensorflow import keras

classes = np.array(["A", "B", "C"])
ax = np.array([[4], [15], [65], [5], [18], [70]], dtype="float32")   # weight only
ay = np.array([1, 2, 0, 1, 2, 0])                                     # B C A B C A
qx = np.array([[20], [3], [75]], dtype="float32")

model = keras.Sequential([
    keras.Input((1,)),
    keras.layers.Dense(4, activation="sigmoid"),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
model.fit(ax / 50.0 - 1.0, ay, batch_size=6, epochs=200, verbose=0)
print("qp =", classes[model.predict(qx / 50.0 - 1.0, verbose=0).argmax(axis=1)])
