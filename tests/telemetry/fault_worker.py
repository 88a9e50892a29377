"""Launcher for the crash tests: `custodes worker` with a fault hook injected (the production
command has no fault knob). Usage: python fault_worker.py NAME STEP:N"""

import logging
import sys

from custodes.bootstrap import bootstrap
from custodes.config import Settings
from custodes.runner import fault_point, run_worker

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    name, spec = sys.argv[1], sys.argv[2]
    run_worker(bootstrap(Settings.from_env()), name, fault=fault_point(spec))
