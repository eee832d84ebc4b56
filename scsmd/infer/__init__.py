"""The light inference path: onnxruntime and numpy only, never torch or scanpy."""
