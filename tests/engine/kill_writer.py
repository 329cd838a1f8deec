"""Run by the kill test: edit masks and tags of a project in a loop until killed."""

import sys

import numpy as np

from mcc_engine.project.store import Project

project = Project.open(sys.argv[1])
images = [project.image(i.id) for i in project.images()]
rng = np.random.default_rng(int(sys.argv[2]))
print("ready", flush=True)
for i in range(100000):
    image = images[int(rng.integers(len(images)))]
    value = int(rng.integers(0, 5))
    project.save_mask(image.id, np.full((image.height, image.width), value, np.uint8))
    if i % 3 == 0:
        project.set_tags(image.id, [int(rng.integers(1, 5))])
    if i % 7 == 0:
        project.undo(image.id)
