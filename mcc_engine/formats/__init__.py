"""Dataset formats: VOC and COCO export."""
