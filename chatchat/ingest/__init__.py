"""file → parse → split → embed → store."""
