"""examengine.api"""
