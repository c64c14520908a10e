"""Analyses over the inferred graph IR, each in its own module (like torch.fx passes):
memory (what training and inference hold), receptive fields, FLOPs. They read the op
facts declared on each OpDef (``saves``, ``aliases``, ``receptive``...) and never import
torch."""
