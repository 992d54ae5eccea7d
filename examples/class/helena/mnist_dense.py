# Helena — mnist_dense, em PyTorch (aprendi PyTorch antes da disciplina; a apostila aceita Keras ou PyTorch)
# Rede pequena para começar: 784 -> 128 relu -> 10 saídas (logits: a CrossEntropyLoss já faz a softmax).
# SGD com lr 0,1 e momento 0,9, batch 64, só 5 épocas (cada época leva uns 5 s no meu notebook).
# Erro de teste obtido: 3,2 %
# Ainda não chega à meta (1,61 %); próximo passo: duas camadas, dropout, mais épocas.
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

torch.manual_seed(0)  # para repetir o mesmo resultado


class Rede(nn.Module):
    def __init__(self):
        super().__init__()
        self.oculta = nn.Linear(28 * 28, 128)
        self.saida = nn.Linear(128, 10)

    def forward(self, x):
        x = x.view(x.size(0), -1)  # 1x28x28 -> 784
        return self.saida(torch.relu(self.oculta(x)))


treino = datasets.MNIST("dados", train=True, download=True, transform=transforms.ToTensor())
teste = datasets.MNIST("dados", train=False, download=True, transform=transforms.ToTensor())
treino_loader = DataLoader(treino, batch_size=64, shuffle=True)
teste_loader = DataLoader(teste, batch_size=500)  # sem shuffle: na ordem do conjunto de teste

rede = Rede()
otimizador = torch.optim.SGD(rede.parameters(), lr=0.1, momentum=0.9)
perda = nn.CrossEntropyLoss()

for epoca in range(5):
    rede.train()
    for imagens, rotulos in treino_loader:
        otimizador.zero_grad()
        erro = perda(rede(imagens), rotulos)
        erro.backward()
        otimizador.step()
    print("época", epoca + 1, "perda", round(erro.item(), 4))

rede.eval()
errados = 0
with torch.no_grad():
    for imagens, rotulos in teste_loader:
        errados += (rede(imagens).argmax(dim=1) != rotulos).sum().item()
print("Erro de teste: %.2f %%" % (100 * errados / len(teste)))
