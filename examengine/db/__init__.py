"""examengine.db"""
