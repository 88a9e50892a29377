"""The monitored person's own access and voice: their sign-in, what they see, their subject access
export, representations and contests, and the caseworkers' task queue that answers them with reasons.
"""
