"""tongban (通办): the command line and composition root."""
