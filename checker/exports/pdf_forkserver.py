"""Imported by the PDF forkserver when it starts: WeasyPrint loaded and warmed up once.

Everything loaded is then hidden from the garbage collector, so a child's collections do not
walk (and copy, page by page) the objects it shares with the forkserver.
"""

import gc

from .pdf_render import warm_up

warm_up()
gc.freeze()
