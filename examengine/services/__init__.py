"""examengine.services"""
