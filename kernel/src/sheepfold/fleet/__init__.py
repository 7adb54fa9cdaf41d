"""The fleet: every instance's heartbeat in the state capability, and the live instances (``platform.fleet``)."""

from sheepfold.fleet.record import LIVE_FACTOR, CapabilityPhase, InstanceRecord
from sheepfold.fleet.roster import Fleet, FleetView
from sheepfold.fleet.vitals import VITALS

__all__ = ["LIVE_FACTOR", "VITALS", "CapabilityPhase", "Fleet", "FleetView", "InstanceRecord"]
