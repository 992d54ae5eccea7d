# Bruno — abc_skin: só mudei os dados, a rede continua com 1 entrada (o peso).
import numpy as np
from tensorflow import keras
ax = np.array([4, 15, 65, 5, 18, 70], dtype=np.float32).reshape(-1, 1) / 50 - 1
ay = np.array([1, 2, 0, 1, 2, 0])
qx = np.array([20, 3, 75], dtype=np.float32).reshape(-1, 1) / 50 - 1
model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(4, activation="sigmoid"),
                          keras.layers.Dense(3, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
model.fit(ax, ay, epochs=300, verbose=0)
print(model.predict(qx, verbose=0).argmax(1))
