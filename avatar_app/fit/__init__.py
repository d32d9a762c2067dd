"""``avatar-app fit``: a proxy body fitted to the user's drawings, written as a character folder.

drawing (views as the sheet loads them) -> landmarks (mediapipe) -> search (start, views,
with shape_search and objective) -> outputs (the character folder); run ties them together,
official fits the map to the official weights' UDP convention.
"""
