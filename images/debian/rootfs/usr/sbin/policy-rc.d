#!/bin/sh
# No init system runs in a container: package scripts must not start services
# (postgresql, redis-server) while an image is being built. 101 = "action forbidden".
exit 101
