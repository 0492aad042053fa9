"""`/kling animate`: images into a video."""
