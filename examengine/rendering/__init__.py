"""examengine.rendering"""
