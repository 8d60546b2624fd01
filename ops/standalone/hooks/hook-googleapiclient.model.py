# Overrides the contributed hook of the same name (a build's own hooks come first): the
# janitor reads one bundled discovery document, compute v1, so the binary carries that one
# instead of all of them (about 600 files, 110 MB).
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

# googleapiclient.model reads its own version from the package's metadata.
datas = copy_metadata("google_api_python_client")
datas += collect_data_files("googleapiclient.discovery_cache", includes=["documents/compute.v1.json"])
