"""Data folders, images, masks and the training views."""
