"""Every domain's tables on `Base.metadata`, for the migration check and schema tools; storage itself never imports the domains."""

from custodes.access import models as _access  # noqa: F401
from custodes.adapters import models as _adapters  # noqa: F401
from custodes.alerts import models as _alerts  # noqa: F401
from custodes.audit import models as _audit  # noqa: F401
from custodes.checkins import models as _checkins  # noqa: F401
from custodes.devices import models as _devices  # noqa: F401
from custodes.grants import models as _grants  # noqa: F401
from custodes.orders import models as _orders  # noqa: F401
from custodes.outbox import models as _outbox  # noqa: F401
from custodes.reports import models as _reports  # noqa: F401
from custodes.retention import models as _retention  # noqa: F401
from custodes.proximity import models as _proximity  # noqa: F401
from custodes.review import models as _review  # noqa: F401
from custodes.subject_access import models as _subject_access  # noqa: F401
from custodes.subjects import models as _subjects  # noqa: F401
from custodes.telemetry import models as _telemetry  # noqa: F401
from custodes.orders import reviews as _order_reviews  # noqa: F401
from custodes.devices import history as _device_history  # noqa: F401
