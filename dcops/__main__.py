"""python -m dcops"""

from dcops.cli import main

main()
