"""Maps the code folders at the repository root into the ``tracesieve`` namespace.

``collector/`` installs as ``tracesieve.collector`` and so on, so that installing tracesieve
never drops generic top-level names such as ``collector`` into site-packages.
"""

from setuptools import find_namespace_packages, setup

_FOLDERS = ("collector", "processors", "sinks", "evals")

package_dir = {"tracesieve": "_tracesieve"}
packages = ["tracesieve"]
for folder in _FOLDERS:
    package_dir[f"tracesieve.{folder}"] = folder
    packages.append(f"tracesieve.{folder}")
    # Namespace discovery also finds data-only folders such as sinks/clickhouse/migrations.
    packages += [
        f"tracesieve.{folder}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])
    ]

setup(
    package_dir=package_dir,
    packages=packages,
    package_data={
        "tracesieve.sinks.clickhouse.migrations": ["*.sql"],
        "tracesieve.evals.review": ["templates/*.html", "static/*"],
    },
)
