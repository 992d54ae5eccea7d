# abc_skin — reference solution (hidden from students).
# Two inputs (weight kg, skin colour 0..100), each scaled from [0, 100] to [-1, 1];
# 8 sigmoid hidden units, 3 softmax outputs (A, B, C), Adam, full batch, 300 epochs.
import numpy as np
import keras

classes = np.array(["A", "B", "C"])
ax = np.array([[4, 6], [15, 8], [65, 70], [5, 90], [18, 70], [70, 10]], dtype="float32")
ay = np.array([1, 2, 0, 1, 2, 0])                      # B C A B C A
qx = np.array([[20, 6], [3, 50], [75, 55]], dtype="float32")

scale = lambda x: x / 50.0 - 1.0                        # 0..100 -> -1..+1, both attributes

model = keras.Sequential([
    keras.Input((2,)),
    keras.layers.Dense(8, activation="sigmoid"),
    keras.layers.Dense(3, activation="softmax"),
])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(scale(ax), ay, batch_size=6, epochs=300, verbose=0)

qp = model.predict(scale(qx), verbose=0).argmax(axis=1)
print("qp =", classes[qp])                              # expected: C B A

# Did the network learn that skin colour is noise? Class along the colour axis, for each weight:
weights, colours = np.arange(0, 101), np.arange(0, 101, 5)
grid = np.array([[w, c] for w in weights for c in colours], dtype="float32")
cls = model.predict(scale(grid), verbose=0).argmax(axis=1).reshape(len(weights), len(colours))
print("weights whose class never changes with colour: %.0f %%" % (100 * np.mean((cls == cls[:, :1]).all(axis=1))))
