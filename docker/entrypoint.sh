#!/bin/sh
# Put Stash Sense into the plugins folder of the mounted config directory, then start Stash.
# Files from the image overwrite the plugin's code; data/, models/ and settings stay in the volume.
# python_env.json (made at build time) points the plugin at /opt/stash_sense_env.
set -eu
plugins="${STASH_SENSE_PLUGINS:-/root/.stash/plugins}"
mkdir -p "$plugins/stash_sense"
cp -R /opt/stash_sense_plugin/. "$plugins/stash_sense/"
exec "$@"
