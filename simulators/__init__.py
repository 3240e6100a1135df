"""Station simulators: real Beijing data replay, a synthetic network, and an MQTT publisher."""
