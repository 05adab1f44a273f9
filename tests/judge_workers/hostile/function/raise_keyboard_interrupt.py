# raise KeyboardInterrupt from the call
def add(a, b):
    raise KeyboardInterrupt()
