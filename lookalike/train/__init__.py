"""Learn embeddings from the workspace's own catalog: metric heads, classifiers, autoencoders, PCA, fine-tuning."""
