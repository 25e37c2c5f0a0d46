"""`streamer eval`: decoding graphs judged pseudo-online on recordings (splits, metrics, report)."""
