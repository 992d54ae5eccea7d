# Alice — abc_skin. Duas entradas (peso, cor da pele), normalizadas de [0, 100] para [-1, 1].
# Resposta: a rede classifica pelo peso; a cor quase nunca muda a classe, então ela tratou a cor como ruído.
import numpy as np
from tensorflow import keras
ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype=np.float32)
ay = keras.utils.to_categorical([1, 2, 0, 1, 2, 0], 3)
qx = np.array([[20, 6], [3, 50], [75, 55]], dtype=np.float32)
ax = ax / 50 - 1; qx = qx / 50 - 1
model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(6, activation="tanh"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(ax, ay, epochs=300, batch_size=6, verbose=0)
print("qp:", np.array(list("ABC"))[model.predict(qx, verbose=0).argmax(1)])
