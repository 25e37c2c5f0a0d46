"""Node types of this package, by name, for the registry (loaded lazily)."""

CATALOG: dict[str, str] = {
    "actions.map": "nodes.actions.map:Map",
    "actions.gate": "nodes.actions.gate:Gate",
    "actuators.zmq": "nodes.actions.actuators.zmq_out:ZmqActuator",
    "actuators.udp": "nodes.actions.actuators.udp_out:UdpActuator",
    "actuators.osc": "nodes.actions.actuators.osc_out:OscActuator",
    "actuators.serial": "nodes.actions.actuators.serial_out:SerialActuator",
    "actuators.log": "nodes.actions.actuators.log_out:LogActuator",
}
