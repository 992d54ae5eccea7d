"""``cv2_imshow`` shows the image with matplotlib, so the probe captures it as a figure."""


def cv2_imshow(a):
    import matplotlib.pyplot as plt
    import numpy as np

    a = np.asarray(a)
    if a.ndim == 3 and a.shape[2] == 3:
        a = a[:, :, ::-1]  # OpenCV images are BGR
    plt.figure()
    plt.imshow(a, cmap="gray" if a.ndim == 2 else None)
    plt.axis("off")
    plt.show()
