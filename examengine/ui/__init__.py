"""examengine.ui"""
