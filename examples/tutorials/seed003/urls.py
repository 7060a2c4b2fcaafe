"""Seed 003's urlopen / urlretrieve on netcore: read the start of a web page and of a local
file, then save a copy of the page.

The seed (Python 2) imports them from `urllib`; in Python 3 they live in `urllib.request`, and
netcore has its own with the same calls (`from urllib.request import urlopen, urlretrieve`
runs this program on the stdlib). The seed's targets were a public blog and a Windows path;
here they are arguments:

    python urls.py URL [FILE [SAVE_AS]]

URL is an http:// address (`python -m http.server` serves one locally), FILE a local file
read through a `file:` URL (default: this program), SAVE_AS where urlretrieve writes the copy
(default: a temporary file, removed afterwards).
"""
import os
import sys
import tempfile

from netcore import urlopen, urlretrieve  # the seed's `from urllib import urlopen`

if len(sys.argv) < 2:
    sys.exit("usage: urls.py URL [FILE [SAVE_AS]]")
url = sys.argv[1]
local = sys.argv[2] if len(sys.argv) > 2 else __file__

webpage = urlopen(url)
txt = webpage.readline(45)
print(txt)

webpage = urlopen('file:' + os.path.abspath(local))
txt = webpage.readline(45)
print(txt)

with tempfile.TemporaryDirectory() as tmp:
    target = sys.argv[3] if len(sys.argv) > 3 else os.path.join(tmp, 'temp.html')
    webpage = urlretrieve(url, target)
    print(type(webpage))  # <class 'tuple'>: (filename, headers)
    print(os.path.getsize(webpage[0]), 'bytes saved')
