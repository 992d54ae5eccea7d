# Helena — fashion_mnist em PyTorch: a mesma rede do mnist_dense, com Adam.
# 784 -> 128 relu -> 10, Adam lr 0,001, batch 64, 3 épocas.
# Erro de teste obtido: 13,8 %
import matplotlib.pyplot as plt
import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

torch.manual_seed(0)
CATEGORIAS = ["Camiseta", "Calça", "Pulôver", "Vestido", "Casaco", "Sandália", "Camisa", "Tênis", "Bolsa", "Botins"]

treino = datasets.FashionMNIST("dados", train=True, download=True, transform=transforms.ToTensor())
teste = datasets.FashionMNIST("dados", train=False, download=True, transform=transforms.ToTensor())

rede = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
otimizador = torch.optim.Adam(rede.parameters(), lr=0.001)
perda = nn.CrossEntropyLoss()

for epoca in range(3):
    rede.train()
    for imagens, rotulos in DataLoader(treino, batch_size=64, shuffle=True):
        otimizador.zero_grad()
        perda(rede(imagens), rotulos).backward()
        otimizador.step()
    print("época", epoca + 1)

rede.eval()
with torch.no_grad():
    previstas = torch.cat([rede(imagens).argmax(1) for imagens, _ in DataLoader(teste, batch_size=1000)])
print("Erro de teste: %.2f %%" % (100 * (previstas != teste.targets).float().mean()))

# 20 primeiras imagens de teste: classe verdadeira em azul (título), prevista em vermelho (embaixo)
plt.figure(figsize=(10, 9))
for i in range(20):
    plt.subplot(4, 5, i + 1)
    plt.imshow(teste.data[i], cmap="gray_r")
    plt.title(CATEGORIAS[teste.targets[i]], color="blue")
    plt.xlabel(CATEGORIAS[previstas[i]], color="red")
    plt.xticks([])
    plt.yticks([])
plt.tight_layout()
plt.savefig("fashion_mnist.png")
