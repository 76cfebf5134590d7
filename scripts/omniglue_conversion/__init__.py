"""Conversion of the OmniGlue pipeline into the Triton model repository's ONNX files."""
