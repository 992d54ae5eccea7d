# Gabriel — abc_skin. O abc1.py da apostila (programa 2) com a cor da pele como segunda entrada.
# Escrito no Keras 2 do laboratório (TensorFlow 2.15): SGD com taxa 10, nb_epoch, predict_classes e
# model.save sem extensão, como nos tutoriais antigos.
# Resposta: com 4 neurônios sigmoides a rede acerta as 3 amostras de teste (C B A).
import os; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'
import numpy as np
from tensorflow.keras.models import Sequential
from tensorflow.keras.layers.core import Dense
from tensorflow.keras import optimizers

model = Sequential()
model.add(Dense(4, activation='sigmoid', input_dim=2))
model.add(Dense(3, activation='sigmoid'))
sgd = optimizers.SGD(learning_rate=10)
model.compile(optimizer=sgd, loss='mse', metrics=['accuracy'])

ax = np.matrix('4 6; 15 8; 65 70; 5 90; 18 70; 70 10', dtype="float32")   # peso (kg), cor da pele
ax = 2*(ax/100-0.5)  # -1 a +1
ay = np.matrix('0 1 0; 0 0 1; 1 0 0; 0 1 0; 0 0 1; 1 0 0', dtype="float32")
model.fit(ax, ay, nb_epoch=200, batch_size=2, verbose=0)

qx = np.matrix('20 6; 3 50; 75 55', dtype="float32")
qx = 2*(qx/100-0.5)  # -1 a +1
qp = model.predict_classes(qx)
print("Rotulos de saida:", np.array(list("ABC"))[qp])   # esperado: C B A
model.save('abc_pele')
