import os
import sys

# tests import helpers that live beside them (backend_contract, adbemu)
sys.path.insert(0, os.path.dirname(__file__))
